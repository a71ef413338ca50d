"""Subscriptions: the people a fund holds a file on, as keyed blind indexes with periods."""
