"""What a run produced: the run report, the role facts read once, smoke results and the fleet judgement,
and the per-host state across runs."""
