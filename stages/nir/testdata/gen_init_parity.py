#!/usr/bin/python3
"""Generates init_parity.json: the parameters PyTorch 1.13 draws for the NIR criterion after
torch.manual_seed(seed), in the original's construction order (reference-method.md §6.1, §13):
proxies randn(C, D) / 8, then for each flow block subnet1 then subnet2 (FrEIA subnet_fc: Linear
layers with PyTorch default init, weight then bias; 'xavier' re-initialises every layer but the
first right after that layer is constructed), then the cond-prep embedder MLPs.

This mirrors the original's module construction with plain torch.nn so that the Go test can
check RNG parity without FrEIA. Run: /usr/bin/python3 gen_init_parity.py > init_parity.json
"""
import json
import torch
import torch.nn as nn


def subnet_fc(c_in, c_out, depth, width, init):
    # As NormFlow.subnet_fc of the original: each Linear after the first is re-initialised
    # right after its construction when init == 'xavier'.
    def lin(i, o, reinit):
        layer = nn.Linear(i, o)
        if reinit and init == 'xavier':
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
        return layer
    layers = [lin(c_in, width, False)]
    for _ in range(depth - 2):
        layers += [nn.ReLU(), lin(width, width, True)]
    layers += [nn.ReLU(), lin(width, c_out, True)]
    return nn.Sequential(*layers)


def build(seed, D, C, K, depth, width, mode, init):
    torch.manual_seed(seed)
    out = {'proxies': (torch.randn(C, D) / 8)}
    d1 = round(D / 2)
    d2 = D - d1
    for k in range(K):
        if mode in ('start', 'mid', 'end'):
            cond = {'start': 0, 'mid': K // 2, 'end': K - 1}[mode] == k
        else:
            cond = True
        dc = D if cond else 0
        s1 = subnet_fc(d1 + dc, 2 * d2, depth, width, init)
        s2 = subnet_fc(d2 + dc, 2 * d1, depth, width, init)
        for name, net in (('subnet1', s1), ('subnet2', s2)):
            for pn, p in net.state_dict().items():
                out['flow.block%d.%s.%s' % (k, name, pn)] = p
    if mode == 'dense_embed':
        e = nn.Sequential(nn.Linear(D, D), nn.ReLU(), nn.Linear(D, D))
        for pn, p in e.state_dict().items():
            out['condprep.embedder.' + pn] = p
    elif mode in ('dense_embed_multi', 'dense_embed_multi_stacked'):
        e = nn.ModuleList([nn.Sequential(nn.Linear(D, D), nn.ReLU(), nn.Linear(D, D)) for _ in range(K)])
        for pn, p in e.state_dict().items():
            out['condprep.embedder.' + pn] = p
    return out


cases = []
for (seed, D, C, K, depth, width, mode, init) in [
        (0, 8, 5, 2, 3, 16, 'dense', 'none'),
        (3, 7, 4, 3, 3, 8, 'mid', 'none'),
        (1, 8, 5, 2, 4, 16, 'dense_embed_multi', 'xavier'),
        (2, 6, 3, 2, 2, 8, 'dense_embed', 'none')]:
    ps = build(seed, D, C, K, depth, width, mode, init)
    cases.append({'seed': seed, 'D': D, 'C': C, 'cblocks': K, 'fc_depth': depth, 'fc_width': width,
                  'cond_mode': mode, 'fc_init': init,
                  'names': list(ps.keys()),
                  'params': {k: {'shape': list(v.shape), 'values': [float(x) for x in v.flatten().tolist()]}
                             for k, v in ps.items()}})
print(json.dumps({'description': __doc__.strip().splitlines()[0] + ' torch ' + torch.__version__,
                  'cases': cases}))
