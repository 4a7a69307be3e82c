"""The comparison report: tables computed from a comparison folder, and the documents (Markdown, HTML, plots) written from them."""
