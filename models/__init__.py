"""What is modelled: priors, data, PyMC model builders and exact references.

Importing this package changes nothing in the process; :func:`bayes_zoo.configure` sets PyTensor up.
"""
