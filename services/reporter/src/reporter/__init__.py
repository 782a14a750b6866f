"""reporter: Weekly reports for gym owners."""
