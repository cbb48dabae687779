"""Change management: requests for change, approvals, the CAB and the change calendar."""
