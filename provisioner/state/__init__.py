"""The state directory and what it holds: its safety (statedir), atomic records (records), the run
directories (rundir) and the processes of a run whose CLI was killed (orphans)."""
