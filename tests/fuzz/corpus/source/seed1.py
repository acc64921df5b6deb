def forward(self, x):
    if x.sum() > 0:
        return -x ** 2 + [1, -2][0]
    s = """((
"""  # ((
    return not (x is None) and x.t()[0:] \
        + 1e-5
