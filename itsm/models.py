"""The core app has no tables of its own.

This module exists so Django counts `itsm` as an app with models and sends it the post_migrate
signal, on which the role groups' permissions are synced (see itsm/roles.py).
"""
