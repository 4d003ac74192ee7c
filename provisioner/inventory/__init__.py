"""Inventories as Ansible reads them: sources, located values, connection variables, host patterns."""
