"""Reports: prediction tables, metric summaries, Markdown reports and plots."""
