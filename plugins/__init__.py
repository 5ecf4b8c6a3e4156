"""Guanxi's in-tree plugins. Each is an ordinary package declared under the ``crm.plugins`` entry-point group."""
