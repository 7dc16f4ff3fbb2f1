"""Exact TreeSHAP for LightGBM boosters, about 6x faster than ``pred_contrib`` on one core.

Reasons need SHAP values for every advocate every night, and LightGBM's own TreeSHAP costs
``O(leaves x depth^2)`` per row and tree (480 us per advocate for the 110-tree model of
``benchmarks/scoring.py`` on one core; this module: 80 us): most of a large program's scoring
time. This module computes *the same numbers* (path-dependent TreeSHAP with LightGBM's data-count
covers, identical to ``pred_contrib=True`` up to floating-point rounding, which the tests check)
another way.

Why it is exact. For one tree, the path-dependent value function of a feature set ``S`` is a sum
over leaves ``l`` of ``v_l x prod_f (o_f if f in S else z_f)``, the product over the distinct
features ``f`` on the leaf's path: ``z_f`` is the product of the cover fractions of the path's
splits on ``f``, and ``o_f`` is 1 when the row satisfies all of them, else 0. The Shapley value of
such a product game for feature ``i`` of the leaf is

    v_l (o_i - z_i) sum_{S subset of O} w(|S|) prod_{f in O minus S} z_f prod_{f in Z} z_f

with ``O`` (``Z``) the other path features the row does (does not) satisfy and
``w(s) = s! (d - 1 - s)! / d!``: it depends on the row only through the bit mask of which path
features it satisfies. So each leaf gets a table of its ``d`` values for each of the ``2^d``
masks once per model (leaves with more than :data:`MAX_TABLE_DEPTH` distinct path features are
computed on the fly), and a row costs one pass over each tree's splits plus one table lookup per
leaf. The kernel is compiled with numba (a dependency of this package and of ``shap``) and runs rows in
parallel.

Supported: numerical splits (``<=``) with LightGBM's missing-value rules (``None``, ``Zero``,
``NaN``), one tree per iteration (binary or regression objectives), no linear trees.
:func:`compile_booster` returns ``None`` for anything else, and callers fall back to
``pred_contrib``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
from numba import njit, prange

#: Leaves with at most this many distinct features on their path get a precomputed table of
#: ``2^d x d`` values; deeper ones are computed per row (same result, slower).
MAX_TABLE_DEPTH = 12
#: LightGBM's ``kZeroThreshold`` (a float constant widened to double).
ZERO_THRESHOLD = float(np.float32(1e-35))
_MISSING = {"None": 0, "Zero": 1, "NaN": 2}
#: Trees with at most this many splits keep each row's decisions in one 64-bit word, so a leaf's
#: satisfied path features take a few bit operations instead of a walk along the path.
MAX_BITSET_NODES = 63


@dataclass(frozen=True)
class CompiledTrees:
    """A booster's trees flattened into arrays for :func:`contributions`.

    Internal nodes of tree ``t`` are ``node_start[t]:node_start[t+1]``, its leaves
    ``leaf_start[t]:leaf_start[t+1]``. Leaf ``l``'s path splits are
    ``path_start[l]:path_start[l+1]`` (node index within its tree, whether the path goes left,
    the slot of its feature among the leaf's distinct features); its distinct features
    ``feat_start[l]:feat_start[l+1]`` with their zero fractions; its table (``2^d x d`` values,
    or none when ``table_start[l] < 0``) starts at ``table_start[l]``.
    """

    n_features: int
    bias: float
    node_start: np.ndarray
    node_feature: np.ndarray
    node_threshold: np.ndarray
    node_missing: np.ndarray
    node_default_left: np.ndarray
    leaf_start: np.ndarray
    leaf_value: np.ndarray
    path_start: np.ndarray
    path_node: np.ndarray
    path_left: np.ndarray
    path_slot: np.ndarray
    feat_start: np.ndarray
    feat_index: np.ndarray
    feat_zero: np.ndarray
    table_start: np.ndarray
    tables: np.ndarray
    weights: np.ndarray  # weights[d, s] = s! (d - 1 - s)! / d!, the Shapley weights
    leaf_dir: np.ndarray  # per leaf: bit j set when the path goes left at split j (int64)
    leaf_pathmask: np.ndarray  # per leaf: bit j set when split j is on the path
    feat_nodes: np.ndarray  # per (leaf, path feature): bits of that feature's splits on the path
    max_nodes: int


def _supported(dump: dict[str, Any]) -> bool:
    if int(dump.get("num_tree_per_iteration", 1)) != 1:
        return False

    def ok(node: dict[str, Any]) -> bool:
        if "split_index" not in node:
            return "leaf_coeff" not in node
        if node.get("decision_type") != "<=" or node.get("missing_type") not in _MISSING:
            return False
        return ok(node["left_child"]) and ok(node["right_child"])

    return all(ok(tree["tree_structure"]) for tree in dump["tree_info"])


def compile_booster(booster: Any) -> CompiledTrees | None:
    """Flatten a LightGBM booster (the trees ``predict`` uses by default) for fast TreeSHAP.

    Returns ``None`` when the model uses something this implementation does not cover
    (categorical splits, linear trees, several trees per iteration).
    """
    dump = booster.dump_model()
    if not _supported(dump):
        return None
    n_features = int(dump["max_feature_idx"]) + 1
    node_start, leaf_start = [0], [0]
    node_feature: list[int] = []
    node_threshold: list[float] = []
    node_missing: list[int] = []
    node_default_left: list[bool] = []
    leaf_value: list[float] = []
    path_start, path_node, path_left, path_slot = [0], [], [], []
    feat_start, feat_index, feat_zero = [0], [], []
    feat_nodes: list[int] = []
    leaf_dir: list[int] = []
    leaf_pathmask: list[int] = []
    bias = 0.0
    max_nodes = 1
    for tree in dump["tree_info"]:
        root = tree["tree_structure"]
        base = len(node_feature)
        root_count = float(root.get("internal_count", root.get("leaf_count", 0))) or 1.0
        # Depth-first; a path entry is (node within this tree, goes left, feature, cover fraction).
        stack: list[tuple[dict[str, Any], list[tuple[int, bool, int, float]]]] = [(root, [])]
        while stack:
            node, path = stack.pop()
            if "split_index" in node:
                local = len(node_feature) - base
                feature = int(node["split_feature"])
                node_feature.append(feature)
                node_threshold.append(float(node["threshold"]))
                node_missing.append(_MISSING[node["missing_type"]])
                node_default_left.append(bool(node["default_left"]))
                count = float(node["internal_count"])
                for child, left in ((node["right_child"], False), (node["left_child"], True)):
                    child_count = float(child.get("internal_count", child.get("leaf_count", 0)))
                    stack.append((child, [*path, (local, left, feature, child_count / count)]))
                continue
            value = float(node["leaf_value"])
            leaf_value.append(value)
            bias += value * (float(node.get("leaf_count", 0)) / root_count if path else 1.0)
            slots: dict[int, int] = {}
            zeros: list[float] = []
            nodes: list[int] = []
            direction = pathmask = 0
            for local, left, feature, fraction in path:
                if feature not in slots:
                    slots[feature] = len(zeros)
                    zeros.append(1.0)
                    nodes.append(0)
                zeros[slots[feature]] *= fraction
                if local < MAX_BITSET_NODES:
                    nodes[slots[feature]] |= 1 << local
                    pathmask |= 1 << local
                    direction |= int(left) << local
                path_node.append(local)
                path_left.append(left)
                path_slot.append(slots[feature])
            path_start.append(len(path_node))
            feat_index.extend(slots)
            feat_zero.extend(zeros)
            feat_nodes.extend(nodes)
            leaf_dir.append(direction)
            leaf_pathmask.append(pathmask)
            feat_start.append(len(feat_index))
        max_nodes = max(max_nodes, len(node_feature) - base)
        node_start.append(len(node_feature))
        leaf_start.append(len(leaf_value))
    if not leaf_value:
        return None
    feat_start_arr = np.asarray(feat_start, dtype=np.int64)
    depth = np.diff(feat_start_arr)
    table_start = np.full(len(leaf_value), -1, dtype=np.int64)
    sizes = np.where(depth <= MAX_TABLE_DEPTH, (2**depth) * depth, 0)
    table_start[depth <= MAX_TABLE_DEPTH] = np.concatenate([[0], np.cumsum(sizes)[:-1]])[
        depth <= MAX_TABLE_DEPTH
    ]
    compiled = CompiledTrees(
        n_features=n_features,
        bias=bias,
        node_start=np.asarray(node_start, dtype=np.int64),
        node_feature=np.asarray(node_feature, dtype=np.int64),
        node_threshold=np.asarray(node_threshold, dtype=np.float64),
        node_missing=np.asarray(node_missing, dtype=np.int8),
        node_default_left=np.asarray(node_default_left, dtype=np.bool_),
        leaf_start=np.asarray(leaf_start, dtype=np.int64),
        leaf_value=np.asarray(leaf_value, dtype=np.float64),
        path_start=np.asarray(path_start, dtype=np.int64),
        path_node=np.asarray(path_node, dtype=np.int64),
        path_left=np.asarray(path_left, dtype=np.bool_),
        path_slot=np.asarray(path_slot, dtype=np.int64),
        feat_start=feat_start_arr,
        feat_index=np.asarray(feat_index, dtype=np.int64),
        feat_zero=np.asarray(feat_zero, dtype=np.float64),
        table_start=table_start,
        tables=np.zeros(int(sizes.sum()), dtype=np.float64),
        weights=shapley_weights(int(depth.max())),
        leaf_dir=np.asarray(leaf_dir, dtype=np.int64),
        leaf_pathmask=np.asarray(leaf_pathmask, dtype=np.int64),
        feat_nodes=np.asarray(feat_nodes, dtype=np.int64),
        max_nodes=max_nodes,
    )
    build_tables(
        compiled.leaf_value,
        compiled.feat_start,
        compiled.feat_zero,
        compiled.weights,
        compiled.table_start,
        compiled.tables,
    )
    return compiled


def shapley_weights(max_depth: int) -> np.ndarray:
    """``w[d, s] = s! (d - 1 - s)! / d!`` for ``0 <= s < d <= max_depth`` (0 elsewhere)."""
    w = np.zeros((max_depth + 1, max_depth + 1))
    for d in range(1, max_depth + 1):
        for s in range(d):
            w[d, s] = math.exp(math.lgamma(s + 1) + math.lgamma(d - s) - math.lgamma(d + 1))
    return w


def contributions(compiled: CompiledTrees, X: np.ndarray, n_jobs: int | None = None) -> np.ndarray:
    """SHAP values in raw score units, ``(n, n_features + 1)``, the last column the bias.

    The same layout and values as LightGBM's ``predict(X, pred_contrib=True)``.
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] < compiled.n_features:
        raise ValueError(f"expected rows of {compiled.n_features} features, got {X.shape}")
    out = np.zeros((X.shape[0], X.shape[1] + 1), dtype=np.float64)
    if X.shape[0] == 0:
        return out
    previous = numba.get_num_threads()
    threads = max(1, min(int(n_jobs or previous), numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(threads)
    try:
        shap_rows(
            X,
            compiled.node_start,
            compiled.node_feature,
            compiled.node_threshold,
            compiled.node_missing,
            compiled.node_default_left,
            compiled.leaf_start,
            compiled.leaf_value,
            compiled.path_start,
            compiled.path_node,
            compiled.path_left,
            compiled.path_slot,
            compiled.feat_start,
            compiled.feat_index,
            compiled.feat_zero,
            compiled.table_start,
            compiled.tables,
            compiled.weights,
            compiled.leaf_dir,
            compiled.leaf_pathmask,
            compiled.feat_nodes,
            compiled.max_nodes,
            ZERO_THRESHOLD,
            out,
        )
    finally:
        numba.set_num_threads(previous)
    out[:, -1] = compiled.bias
    return out


# --------------------------------------------------------------------------- numba kernels
# Module-level functions so numba's on-disk cache (``cache=True``) finds them again in the next
# process: a nightly job compiles once per installation, not once per run (about 8 s).


@njit(cache=True, nogil=True)
def leaf_phi(
    mask: int, value: float, zeros: np.ndarray, weights: np.ndarray, out: np.ndarray
) -> None:
    """The leaf's SHAP values for its ``d`` path features given the row's mask, O(d^2).

    ``G(t) = prod over satisfied features (t + z_f)``; a satisfied feature ``i`` needs
    ``G / (t + z_i)`` (synthetic division), an unsatisfied one ``G`` itself, each weighted
    ``sum_s w(s) [t^s]`` and multiplied by the unsatisfied features' other ``z``.
    """
    d = len(zeros)
    g = np.zeros(d + 1)
    g[0] = 1.0
    a = 0
    for f in range(d):
        if (mask >> f) & 1:
            a += 1
            g[a] = g[a - 1]
            for k in range(a - 1, 0, -1):
                g[k] = g[k - 1] + zeros[f] * g[k]
            g[0] = zeros[f] * g[0]
    w = weights[d]
    unset_sum = 0.0
    for s in range(a + 1):
        unset_sum += w[s] * g[s]
    q = np.empty(d + 1)
    for i in range(d):
        z_others = 1.0
        for f in range(d):
            if f != i and not (mask >> f) & 1:
                z_others *= zeros[f]
        if (mask >> i) & 1:
            # q(t) = g(t) / (t + z_i), degree a - 1
            q[a - 1] = g[a]
            for k in range(a - 1, 0, -1):
                q[k - 1] = g[k] - zeros[i] * q[k]
            total = 0.0
            for s in range(a):
                total += w[s] * q[s]
            out[i] = value * (1.0 - zeros[i]) * z_others * total
        else:
            out[i] = -value * zeros[i] * z_others * unset_sum


@njit(cache=True)
def build_tables(
    leaf_value: np.ndarray,
    feat_start: np.ndarray,
    feat_zero: np.ndarray,
    weights: np.ndarray,
    table_start: np.ndarray,
    tables: np.ndarray,
) -> None:
    for leaf in range(len(leaf_value)):
        start = table_start[leaf]
        if start < 0:
            continue
        zeros = feat_zero[feat_start[leaf] : feat_start[leaf + 1]]
        d = len(zeros)
        for mask in range(1 << d):
            leaf_phi(
                mask,
                leaf_value[leaf],
                zeros,
                weights,
                tables[start + mask * d : start + (mask + 1) * d],
            )


@njit(cache=True, parallel=True, nogil=True)
def shap_rows(
    X: np.ndarray,
    node_start: np.ndarray,
    node_feature: np.ndarray,
    node_threshold: np.ndarray,
    node_missing: np.ndarray,
    node_default_left: np.ndarray,
    leaf_start: np.ndarray,
    leaf_value: np.ndarray,
    path_start: np.ndarray,
    path_node: np.ndarray,
    path_left: np.ndarray,
    path_slot: np.ndarray,
    feat_start: np.ndarray,
    feat_index: np.ndarray,
    feat_zero: np.ndarray,
    table_start: np.ndarray,
    tables: np.ndarray,
    weights: np.ndarray,
    leaf_dir: np.ndarray,
    leaf_pathmask: np.ndarray,
    feat_nodes: np.ndarray,
    max_nodes: int,
    zero_threshold: float,
    out: np.ndarray,
) -> None:
    # Blocks of rows, tree by tree and leaf by leaf: a leaf's table stays in cache while
    # every row of the block looks it up (row by row over all trees would miss the cache
    # once per leaf, which costs more than the arithmetic).
    n = X.shape[0]
    block = 256
    n_blocks = (n + block - 1) // block
    n_trees = len(node_start) - 1
    for b in prange(n_blocks):
        lo = b * block
        hi = min(n, lo + block)
        go_left = np.empty((hi - lo, max_nodes), dtype=np.bool_)
        bits = np.zeros(hi - lo, dtype=np.int64)
        scratch = np.empty(64)
        for t in range(n_trees):
            n0 = node_start[t]
            n_nodes = node_start[t + 1] - n0
            bitset = n_nodes <= MAX_BITSET_NODES
            bits[:] = 0
            for j in range(n_nodes):
                g = n0 + j
                feature = node_feature[g]
                missing = node_missing[g]
                threshold = node_threshold[g]
                default_left = node_default_left[g]
                for r in range(hi - lo):
                    v = X[lo + r, feature]
                    if missing != 2 and np.isnan(v):
                        v = 0.0
                    if (missing == 1 and -zero_threshold <= v <= zero_threshold) or (
                        missing == 2 and np.isnan(v)
                    ):
                        left = default_left
                    else:
                        left = v <= threshold
                    go_left[r, j] = left
                    if bitset and left:
                        bits[r] |= np.int64(1) << j
            for leaf in range(leaf_start[t], leaf_start[t + 1]):
                f0 = feat_start[leaf]
                d = feat_start[leaf + 1] - f0
                if d == 0:
                    continue
                p0 = path_start[leaf]
                p1 = path_start[leaf + 1]
                start = table_start[leaf]
                full = (np.int64(1) << d) - 1
                for r in range(hi - lo):
                    if bitset:
                        # The path's splits the row disagrees with, as node bits; a feature
                        # is satisfied when none of its splits on the path is among them.
                        wrong = (bits[r] ^ leaf_dir[leaf]) & leaf_pathmask[leaf]
                        if wrong == 0:
                            mask = full
                        else:
                            mask = np.int64(0)
                            for k in range(d):
                                if (wrong & feat_nodes[f0 + k]) == 0:
                                    mask |= np.int64(1) << k
                    else:
                        mask = full
                        for p in range(p0, p1):
                            if go_left[r, path_node[p]] != path_left[p]:
                                mask &= ~(np.int64(1) << path_slot[p])
                    phi = out[lo + r]
                    if start >= 0:
                        base = start + mask * d
                        for k in range(d):
                            phi[feat_index[f0 + k]] += tables[base + k]
                    else:
                        if len(scratch) < d:
                            scratch = np.empty(d)
                        leaf_phi(
                            mask, leaf_value[leaf], feat_zero[f0 : f0 + d], weights, scratch[:d]
                        )
                        for k in range(d):
                            phi[feat_index[f0 + k]] += scratch[k]
