"""A plugin that lives only in the test suite: model, page, menu item, permission, panel, event handler."""
