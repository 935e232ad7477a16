"""Server-rendered pages and the browser's authentication."""
