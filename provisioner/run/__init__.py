"""The run layer: one playbook through ansible-runner (runner), its event stream (events), the run's
processes (orphans), interrupts, scratch and run directories, and the --probe-strict pre-flight (probe)."""
