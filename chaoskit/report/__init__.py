"""Reports: the HTML page, the results JSON, the terminal summary."""
