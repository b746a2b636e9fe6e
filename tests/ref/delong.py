"""Reference values for src/stats/delong.rs: DeLong's paired AUROC test (DeLong, DeLong and
Clarke-Pearson 1988) written straight from its placement-value formulas, O(m n), with AUCs
checked against scikit-learn's roc_auc_score. Run: python tests/ref/delong.py"""
import numpy as np
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

y = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1])
a = np.array([.9, .8, .7, .4, .6, .3, .2, .5, .1, .6, .35, .55, .45, .65])
b = np.array([.7, .9, .4, .3, .5, .4, .1, .6, .2, .5, .3, .35, .45, .6])


def psi(x, z):
    return (x > z) + 0.5 * (x == z)


def placements(s):
    pos, neg = s[y == 1], s[y == 0]
    v10 = np.array([psi(x, neg).mean() for x in pos])  # one per positive
    v01 = np.array([psi(pos, z).mean() for z in neg])  # one per negative
    return v10, v01


(a10, a01), (b10, b01) = placements(a), placements(b)
m, n = len(a10), len(a01)
s = np.cov([a10, b10]) / m + np.cov([a01, b01]) / n
auc_a, auc_b = a10.mean(), b10.mean()
assert np.isclose(auc_a, roc_auc_score(y, a)) and np.isclose(auc_b, roc_auc_score(y, b))
z = (auc_b - auc_a) / np.sqrt(s[0, 0] + s[1, 1] - 2 * s[0, 1])
print(*(float(v) for v in (auc_a, auc_b, s[0, 0], s[1, 1], s[0, 1], z, 2 * norm.sf(abs(z)))))
