#!/usr/bin/python3
"""A small DQN that learns to scale podgym's simulated cluster.

    podgym serve --config podgym.yaml &          # sim backend, speed 0
    /usr/bin/python3 examples/python/train_dqn.py --url http://127.0.0.1:6000 --steps 6400

It trains on a vector of envs (POST /envs: each its own simulated cluster,
so the transitions come in batches of --envs), epsilon-greedy, with a replay
buffer and a target network, then plays the greedy policy on a fresh
episode from every pod count and prints the counts it holds. The budget is
counted in env-steps, not seconds, and everything is seeded (torch, numpy,
random, the envs), so a run is the same run every time.

Needs Debian's python3-torch (for /usr/bin/python3) and podgym_env.py
beside this file.
"""
import argparse
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np                                   # noqa: E402
import torch                                         # noqa: E402
from torch import nn                                 # noqa: E402

from podgym_env import PodgymEnv, PodgymVectorEnv    # noqa: E402


def scale_of(spec):
    """Per-field divisors that bring an observation to about [0, 1]: the
    field's finite high, else 100 (percent fields are unbounded above)."""
    out = []
    for f in spec["observation"]:
        hi = f["high"]
        out.append(float(hi) if hi not in (None, 0) else 100.0)
    return np.asarray(out, dtype=np.float32)


def max_pods(spec):
    """The observation's upper bound on pods (policies/scaling.lua's max)."""
    for f in spec["observation"]:
        if f["name"] == "pods" and f["high"]:
            return int(f["high"])
    return 5


class QNet(nn.Module):
    def __init__(self, n_obs, n_actions, hidden=32):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_obs, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, n_actions))

    def forward(self, x):
        return self.net(x)


class Agent:
    """The Q-network with the observation scaling it was trained with."""

    def __init__(self, spec, hidden=32):
        self.scale = scale_of(spec)
        self.q = QNet(len(self.scale), spec["spaces"]["action"]["n"], hidden)

    def features(self, obs):
        return torch.as_tensor(np.asarray(obs, dtype=np.float32) / self.scale)

    def greedy(self, obs):
        """The greedy action (an index) of one observation."""
        with torch.no_grad():
            return int(self.q(self.features(obs)[None]).argmax(1).item())


def train(url, steps=6400, envs=8, seed=1, gamma=0.8, lr=1e-3, batch=64, hidden=32, pods=None,
          eps_start=1.0, eps_end=0.05, eps_frac=0.6, updates_per_step=4, target_every=100, log=print):
    """Train a DQN for `steps` env-steps on a vector of `envs` envs (env i
    seeded seed + i, starting at pods or at counts spread over the bounds).
    Returns the Agent."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    vec = PodgymVectorEnv(url, n=envs, seed=seed, pods=pods)
    agent = Agent(vec.spec_body, hidden)
    target = QNet(len(agent.scale), vec.spec_body["spaces"]["action"]["n"], hidden)
    target.load_state_dict(agent.q.state_dict())
    opt = torch.optim.Adam(agent.q.parameters(), lr=lr)
    n_actions = vec.spec_body["spaces"]["action"]["n"]
    obs, _ = vec.reset(seed=seed)
    if pods is None:        # start the envs at different counts: every state shows up early
        top = max_pods(vec.spec_body)
        for i in range(envs):
            o, _ = vec.reset(options={"ids": [i], "pods": 1 + i % top})
            obs[i] = o[0]
    buf_o, buf_a, buf_r, buf_n = [], [], [], []
    updates, done_steps, vsteps = 0, 0, 0
    total_vsteps = max(1, steps // envs)
    autoreset = np.zeros(envs, dtype=bool)
    while done_steps < steps:
        eps = max(eps_end, eps_start - (eps_start - eps_end) * vsteps / (eps_frac * total_vsteps))
        with torch.no_grad():
            q = agent.q(agent.features(obs))
        acts = q.argmax(1).numpy()
        explore = np.random.rand(envs) < eps
        acts = np.where(explore, np.random.randint(0, n_actions, envs), acts)
        nobs, rew, term, trunc, info = vec.step(acts)
        for i in range(envs):
            if not autoreset[i]:            # an autoreset step is no transition (next-step mode)
                buf_o.append(obs[i])
                buf_a.append(int(acts[i]))
                buf_r.append(float(rew[i]))
                buf_n.append(nobs[i])
        autoreset = np.logical_or(term, trunc)
        obs = nobs
        done_steps += envs
        vsteps += 1
        if len(buf_o) >= batch:
            for _ in range(updates_per_step):
                idx = np.random.randint(0, len(buf_o), batch)
                o = agent.features(np.stack([buf_o[j] for j in idx]))
                a = torch.as_tensor([buf_a[j] for j in idx])
                r = torch.as_tensor([buf_r[j] for j in idx], dtype=torch.float32)
                n = agent.features(np.stack([buf_n[j] for j in idx]))
                with torch.no_grad():
                    y = r + gamma * target(n).max(1).values        # episodes end by truncation only
                pred = agent.q(o).gather(1, a[:, None])[:, 0]
                loss = nn.functional.smooth_l1_loss(pred, y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                updates += 1
                if updates % target_every == 0:
                    target.load_state_dict(agent.q.state_dict())
        if log and vsteps % 50 == 0:
            log("# %d env-steps, eps %.2f, mean reward %.3f" % (done_steps, eps, float(np.mean(rew))))
    vec.close()
    return agent


def play(url, agent, start_pods, steps=15, seed=1000):
    """Run the greedy policy on a fresh episode starting at start_pods:
    the pod counts after each step."""
    env = PodgymEnv(url)
    obs, _ = env.reset(seed=seed, options={"pods": start_pods})
    i = env.obs_names.index("pods")
    counts = []
    for _ in range(steps):
        obs, _, term, trunc, _ = env.step(agent.greedy(obs))
        counts.append(int(obs[i]))
        if term or trunc:
            break
    env.close()
    return counts


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="http://127.0.0.1:6000")
    ap.add_argument("--steps", type=int, default=6400, help="env-steps of training")
    ap.add_argument("--envs", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--save", help="write the Q-network's state_dict here (torch.save)")
    a = ap.parse_args()
    agent = train(a.url, steps=a.steps, envs=a.envs, seed=a.seed)
    for p in range(1, max_pods(agent_spec(a.url)) + 1):
        print("greedy from %d pods: %s" % (p, play(a.url, agent, p)))
    if a.save:
        torch.save(agent.q.state_dict(), a.save)


def agent_spec(url):
    env = PodgymEnv(url)
    spec = env.spec_body
    env.close()
    return spec


if __name__ == "__main__":
    main()
