"""Tool domains, one package each; every domain registers its Gymnasium ids in its ``registration`` module."""
