#!/usr/bin/env python3
"""Import graph of a crate (from `use crate::`/`super::` paths, comments and tests stripped): prints
cycles between modules and between top-level modules; exits 1 if there is any.
Usage: scripts/layers.py crates/gateway/src [-v]"""
import os, re, sys
root = sys.argv[1]

files = {}
for d, _, fs in os.walk(root):
    for f in fs:
        if f.endswith('.rs'):
            p = os.path.join(d, f)
            rel = os.path.relpath(p, root)[:-3]
            parts = rel.split('/')
            if parts[-1] == 'mod': parts = parts[:-1]
            if parts == ['lib']: parts = []
            files[p] = parts
def modname(parts):
    return '::'.join(parts) or 'lib'
edges = {}
for p, parts in files.items():
    src = open(p).read()
    # strip tests modules roughly
    src = re.split(r'#\[cfg\(test\)\]', src)[0]
    src = re.sub(r'//.*', '', src)
    me = modname(parts)
    deps = set()
    # expand `use crate::{a, b::c}` groups crudely
    for m in re.finditer(r'crate::(\{[^;]*\}|[a-z_][a-z_0-9]*(?:::[a-z_][a-z_0-9]*)*)', src):
        t = m.group(1)
        if t.startswith('{'):
            for item in re.findall(r'(?:^|[{,\s])([a-z_][a-z_0-9]*(?:::[a-z_][a-z_0-9]*)*)', t[1:-1]):
                deps.add(item)
        else:
            deps.add(t)
    # super:: references
    for m in re.finditer(r'\bsuper::([a-z_][a-z_0-9]*(?:::[a-z_][a-z_0-9]*)*)', src):
        base = parts[:-1] if not p.endswith('mod.rs') else parts[:-1]
        deps.add('::'.join(base + m.group(1).split('::')))
    for d in deps:
        segs = d.split('::')
        # resolve to the deepest existing module
        best = None
        for i in range(len(segs), 0, -1):
            if any(fp == segs[:i] for fp in files.values()):
                best = segs[:i]; break
        if best is None: continue
        t = modname(best)
        if t != me:
            edges.setdefault(me, set()).add(t)
nodes = set(modname(p) for p in files.values())
# Tarjan
idx = {}; low = {}; st = []; on = set(); sccs = []; c = [0]
sys.setrecursionlimit(10000)
def sc(v):
    idx[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
    for w in edges.get(v, ()):
        if w not in idx: sc(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        comp = []
        while True:
            w = st.pop(); on.discard(w); comp.append(w)
            if w == v: break
        sccs.append(comp)
for v in sorted(nodes):
    if v not in idx: sc(v)
def is_family(comp):
    # allowed: a module and its own children only
    comp = sorted(comp, key=len)
    head = comp[0]
    return all(x == head or x.startswith(head + '::') for x in comp)
bad = 0
for comp in sccs:
    if len(comp) > 1:
        ok = is_family(comp)
        if not ok: bad += 1
        print(('family ' if ok else 'CYCLE  ') + str(len(comp)) + ': ' + ' '.join(sorted(comp)))
if '-v' in sys.argv:
    for k in sorted(edges): print(k, '->', ' '.join(sorted(edges[k])))
# The same graph with every module folded into its top-level module: layers must form a DAG.
top = {}
for k, vs in edges.items():
    a = k.split('::')[0]
    for v in vs:
        b = v.split('::')[0]
        if a != b: top.setdefault(a, set()).add(b)
edges = top
idx.clear(); low.clear(); st.clear(); on.clear(); sccs.clear(); c[0] = 0
for v in sorted(set(n.split('::')[0] for n in nodes)):
    if v not in idx: sc(v)
for comp in sccs:
    if len(comp) > 1:
        bad += 1
        print('TOP-LEVEL CYCLE ' + str(len(comp)) + ': ' + ' '.join(sorted(comp)))
if '-v' in sys.argv:
    for k in sorted(top): print('top', k, '->', ' '.join(sorted(top[k])))
print(f'{bad} import circle(s) across modules')
sys.exit(1 if bad else 0)
