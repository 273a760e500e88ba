"""Running the package as a deployment: the wheel, the production profile (make airflow)."""
