"""The actions of the documents app."""
