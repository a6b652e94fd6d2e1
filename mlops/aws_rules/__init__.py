"""AWS's server-side rules, enforced on the twin's and the tests' boto3 calls (see interception.py)."""
