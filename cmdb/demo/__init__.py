"""Demo data for `manage.py seed_demo`: a believable organisation with its CMDB.

`catalogue` holds the names, models and software the data is drawn from, `blueprint` turns them
into a deterministic plan (no database), and `builder` writes what is missing through the CMDB
services.
"""
