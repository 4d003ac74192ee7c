"""What the operator sees: the console (live view, summaries) and the HTML sign-off report. Views
render what results/ decided; they decide nothing."""
