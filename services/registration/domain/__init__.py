"""Pure registration rules: no I/O, no framework imports.

Every rule reports a `Violation(field, rule, message)`; the HTTP layer turns those into precise
422 answers and the web pages show them beside their field.
"""
