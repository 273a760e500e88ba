"""The shared masker: every form of a secret a server may echo is blanked, and only secrets."""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

import pytest

from intacct_hook.masking import Redactor, excerpt, redactor, secret_forms

SECRET = "p&ss <w>'\"/é%41"


@pytest.mark.parametrize(
    "echoed",
    [
        SECRET,
        "p&amp;ss &lt;w&gt;&apos;&quot;/é%41",
        "p&#38;ss&#32;&#60;w&#62;&#39;&#34;&#47;&#233;&#37;41",
        "p&#x26;ss&#X20;&#x3c;w&#x3E;'\"/&#xE9;%41",
        quote(SECRET, safe=""),
        quote(SECRET, safe="").lower(),
        quote(SECRET),
        quote_plus(SECRET),
        json.dumps(SECRET)[1:-1],
        json.dumps(SECRET, ensure_ascii=False)[1:-1],
        "p%26ss+&lt;w\\u003e'\\\"/%C3%A9%41",  # forms mixed within one echo
    ],
)
def test_every_form_and_mixture_is_masked(echoed):
    assert Redactor([SECRET])(f"[{echoed}]") == "[***]"


def test_characters_outside_the_bmp_match_as_json_surrogate_pairs():
    assert Redactor(["ab😀cd"])(json.dumps("x ab😀cd y")) == '"x *** y"'


def test_a_secret_containing_another_is_masked_whole():
    assert Redactor(["abcdef", "abcdefghij"])("abcdefghij abcdef") == "*** ***"


def test_other_text_is_untouched_and_no_secret_means_no_change():
    assert Redactor([SECRET])("p&ss <w> nearly") == "p&ss <w> nearly"
    assert Redactor([None, ""])("anything") == "anything"
    assert redactor(["tok-123456"]) is redactor(["tok-123456", None])  # compiled once


def test_secret_forms_are_distinct_whole_strings():
    forms = secret_forms(SECRET)
    assert SECRET in forms and quote_plus(SECRET) in forms and len(set(forms)) == len(forms)
    assert secret_forms("") == ()


def test_excerpt_masks_before_it_cuts():
    text = "x" * 290 + "tok-1234567890" + "y" * 50
    assert excerpt(text, Redactor(["tok-1234567890"]), 300) == "x" * 290 + "***" + "y" * 7
