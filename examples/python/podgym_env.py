"""A gymnasium-style client for podgym's environment routes.

    from podgym_env import PodgymEnv, PodgymVectorEnv
    env = PodgymEnv("http://127.0.0.1:6000")
    obs, info = env.reset(seed=1)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())

PodgymEnv drives POST /env/reset and /env/step (one env, the server's
cluster); PodgymVectorEnv drives POST /envs, /envs/step and /envs/reset (n
envs, each its own simulated cluster, next-step autoreset as gymnasium's
vector envs). Both build their spaces from GET /env/spec.

Standard library only; numpy arrays when numpy is importable (else lists of
floats). When gymnasium is installed the classes subclass gymnasium.Env /
gymnasium.vector.VectorEnv and use gymnasium.spaces; without it (gymnasium
is not packaged in Debian) they use the small Box and Discrete below, which
have the same attributes (shape, low, high, n, sample(), contains()).

Every HTTP error raises PodgymError with .status, .code and .message (the
server's {"error": {"code", "message"}}). Connections are kept alive
(http.client) and reopened once when the server closed an idle one.
"""
import http.client
import json
import math
import random
import urllib.parse

try:
    import numpy as np
except ImportError:          # standard library only
    np = None

try:
    import gymnasium
    from gymnasium import spaces as _gym_spaces
except ImportError:
    gymnasium = None
    _gym_spaces = None

__all__ = ["PodgymError", "PodgymEnv", "PodgymVectorEnv", "Box", "Discrete", "Client"]


class PodgymError(Exception):
    """An HTTP error from podgym: status (int), code and message (the
    server's error body), body (the whole decoded body)."""

    def __init__(self, status, code, message, body=None):
        super().__init__("podgym %s %s: %s" % (status, code, message))
        self.status, self.code, self.message, self.body = status, code, message, body


class Client:
    """One keep-alive HTTP connection to a podgym server."""

    def __init__(self, url="http://127.0.0.1:6000", token=None, timeout=120.0):
        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError("url must be http://host:port or https://host:port, got %r" % url)
        self.scheme, self.host = u.scheme, u.hostname
        self.port = u.port or (443 if u.scheme == "https" else 80)
        self.base = u.path.rstrip("/")
        self.timeout = timeout
        self.headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            self.headers["Authorization"] = "Bearer " + token
        self.conn = None

    def _connect(self):
        cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        self.conn = cls(self.host, self.port, timeout=self.timeout)

    def request(self, method, path, body=None):
        """The decoded JSON answer; PodgymError on a status >= 400."""
        data = json.dumps(body).encode() if body is not None else None
        for attempt in (0, 1):
            if self.conn is None:
                self._connect()
            try:
                self.conn.request(method, self.base + path, body=data, headers=self.headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # the server closed an idle keep-alive connection: once more on a new one
                self.close()
                if attempt:
                    raise
        try:
            decoded = json.loads(raw) if raw else None
        except ValueError:
            decoded = None
        if resp.status >= 400:
            err = decoded.get("error", {}) if isinstance(decoded, dict) else {}
            raise PodgymError(resp.status, err.get("code", "http_%d" % resp.status),
                              err.get("message", raw[:200].decode("utf-8", "replace")), decoded)
        if resp.getheader("Connection", "").lower() == "close":
            self.close()
        return decoded

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, body=None):
        return self.request("POST", path, {} if body is None else body)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# ---- spaces, when gymnasium is not there ------------------------------------

class _Space:
    """What the two spaces share: a seeded random source, `x in space`."""

    def __init__(self, seed=None):
        self._rng = random.Random(seed)

    def seed(self, seed=None):
        self._rng = random.Random(seed)
        return [seed]

    def __contains__(self, x):
        return self.contains(x)


class Discrete(_Space):
    """gymnasium.spaces.Discrete(n), duck-typed: n, start, shape, sample(), contains()."""

    def __init__(self, n, seed=None):
        super().__init__(seed)
        self.n, self.start, self.shape, self.dtype = int(n), 0, (), "int64"

    def sample(self):
        return self._rng.randrange(self.n)

    def contains(self, x):
        try:
            return int(x) == x and 0 <= int(x) < self.n
        except (TypeError, ValueError):
            return False

    def __repr__(self):
        return "Discrete(%d)" % self.n


class Box(_Space):
    """gymnasium.spaces.Box(low, high, shape), duck-typed: low, high, shape,
    dtype, sample(), contains(). Unbounded sides are -inf/inf."""

    def __init__(self, low, high, shape, seed=None):
        super().__init__(seed)
        self.shape = tuple(shape)
        self.low = _array([_bound(v, -math.inf) for v in low])       # None: unbounded
        self.high = _array([_bound(v, math.inf) for v in high])
        self.dtype = "float32"

    def sample(self):
        out = []
        for lo, hi in zip(self.low, self.high):
            lo, hi = float(lo), float(hi)
            if math.isinf(lo) and math.isinf(hi):
                out.append(self._rng.gauss(0, 1))
            elif math.isinf(hi):
                out.append(lo + self._rng.expovariate(1))
            elif math.isinf(lo):
                out.append(hi - self._rng.expovariate(1))
            else:
                out.append(self._rng.uniform(lo, hi))
        return _array(out)

    def contains(self, x):
        x = list(x)
        return len(x) == len(self.low) and all(
            float(lo) <= float(v) <= float(hi) for v, lo, hi in zip(x, self.low, self.high))

    def __repr__(self):
        return "Box(%s, %s, %s)" % (list(self.low), list(self.high), self.shape)


def _array(values):
    vals = [float("nan") if v is None else float(v) for v in values]
    return np.asarray(vals, dtype=np.float32) if np is not None else vals


def _bound(v, inf):
    return inf if v is None else float(v)


def spaces_of(spec):
    """(observation_space, action_space, names) from GET /env/spec."""
    names = [f["name"] for f in spec["observation"]]
    low = [_bound(f["low"], -math.inf) for f in spec["observation"]]
    high = [_bound(f["high"], math.inf) for f in spec["observation"]]
    n = spec["spaces"]["action"]["n"]
    if _gym_spaces is not None:
        obs = _gym_spaces.Box(low=np.asarray(low, dtype=np.float32), high=np.asarray(high, dtype=np.float32),
                              shape=(len(names),), dtype=np.float32)
        act = _gym_spaces.Discrete(n)
    else:
        obs, act = Box(low, high, (len(names),)), Discrete(n)
    return obs, act, names


def _vector(obs, names):
    """An observation {name: value} as an array in the spec's order (a null,
    e.g. cpu % while no pod reports metrics, is 0)."""
    return _array([0.0 if obs.get(k) is None else obs[k] for k in names])


def _action(a):
    """An action as the server takes it: an index (int) or a name (str)."""
    if isinstance(a, str):
        return a
    if np is not None and isinstance(a, np.ndarray):
        a = a.item()
    return int(a)


_EnvBase = gymnasium.Env if gymnasium is not None else object


class PodgymEnv(_EnvBase):
    """gymnasium.Env over POST /env/reset and /env/step.

    reset(seed=None, options=None) -> (obs, info): options may hold "pods"
    (the pod count to start with); seed=None is the server's sim.seed (each
    episode then starts alike: pass a seed per episode for variety).
    step(action) -> (obs, reward, terminated, truncated, info): action is an
    index of action_space (a name of policies/env.lua works too); info has
    the server's info, kpis and raw observation. observation_space is a Box
    in GET /env/spec's order (names in .obs_names), action_space
    Discrete(n)."""

    metadata = {"render_modes": []}

    def __init__(self, url="http://127.0.0.1:6000", token=None, pods=None, timeout=120.0):
        self.client = Client(url, token, timeout)
        self.spec_body = self.client.get("/env/spec")
        self.observation_space, self.action_space, self.obs_names = spaces_of(self.spec_body)
        self.action_names = [a["name"] for a in self.spec_body["actions"]]
        self.max_steps = self.spec_body["max_steps"]
        self.pods = pods
        self.last = None            # the last answer of the server

    def reset(self, *, seed=None, options=None):
        if gymnasium is not None:
            super().reset(seed=seed)
        body = {}
        if seed is not None:
            body["seed"] = int(seed)
        pods = (options or {}).get("pods", self.pods)
        if pods is not None:
            body["pods"] = int(pods)
        r = self.last = self.client.post("/env/reset", body)
        info = {k: r[k] for k in ("episode", "file", "run_id", "seed", "pods") if k in r}
        info["observation"] = r["observation"]
        return _vector(r["observation"], self.obs_names), info

    def step(self, action):
        r = self.last = self.client.post("/env/step", {"action": _action(action)})
        info = dict(r.get("info") or {})
        info["kpis"] = r.get("kpis")
        info["observation"] = r["observation"]
        return (_vector(r["observation"], self.obs_names), float(r["reward"]), bool(r["terminated"]),
                bool(r["truncated"]), info)

    def set_pod_count(self, n):
        """POST /pod/set-pod-count/n on the server's cluster (outside an episode's steps)."""
        return self.client.post("/pod/set-pod-count/%d" % int(n))

    def close(self):
        self.client.close()


_VecBase = gymnasium.vector.VectorEnv if gymnasium is not None and hasattr(gymnasium, "vector") else object


class PodgymVectorEnv(_VecBase):
    """n envs over POST /envs, /envs/step and /envs/reset, as
    gymnasium.vector.VectorEnv: reset(seed=None, options=None) -> (obs
    [n, d], info), step(actions [n]) -> (obs, rewards, terminations,
    truncations, info), next-step autoreset (metadata["autoreset_mode"]):
    the step after env i's episode ended resets it and answers reward 0;
    info["autoreset"][i] says so. Env i of a vector seeded s is seeded s + i.
    info holds per-env lists ("env", "episode", "step", "autoreset", "kpis",
    "raw": the server's info dicts)."""

    metadata = {"render_modes": [], "autoreset_mode": "next_step"}

    def __init__(self, url="http://127.0.0.1:6000", n=4, seed=None, pods=None, token=None, timeout=120.0):
        self.client = Client(url, token, timeout)
        self.num_envs = int(n)
        self.pods = pods
        self.spec_body = self.client.get("/env/spec")
        self.single_observation_space, self.single_action_space, self.obs_names = spaces_of(self.spec_body)
        if _gym_spaces is not None:
            sos = self.single_observation_space
            self.observation_space = _gym_spaces.Box(
                low=np.tile(sos.low, (self.num_envs, 1)), high=np.tile(sos.high, (self.num_envs, 1)),
                shape=(self.num_envs,) + sos.shape, dtype=np.float32)
            self.action_space = _gym_spaces.MultiDiscrete([self.single_action_space.n] * self.num_envs)
        else:
            self.observation_space = Box([v for _ in range(self.num_envs) for v in self.single_observation_space.low],
                                         [v for _ in range(self.num_envs) for v in self.single_observation_space.high],
                                         (self.num_envs,) + self.single_observation_space.shape)
            self.action_space = None
        self._seed = seed
        self._made = False

    def _obs(self, observations):
        rows = [_vector(o, self.obs_names) for o in observations]
        return np.stack(rows) if np is not None else rows

    def _arr(self, values, dtype):
        return np.asarray(values, dtype=dtype) if np is not None else list(values)

    def reset(self, *, seed=None, options=None):
        """The first call (or seed given) makes the vector (POST /envs): env i
        seeded seed + i. Later calls without a seed reset every env (or
        options["ids"]) to its next episode."""
        options = options or {}
        body = {}
        pods = options.get("pods", self.pods)
        if pods is not None:
            body["pods"] = int(pods)
        if not self._made or (seed is not None and "ids" not in options):
            body["n"] = self.num_envs
            s = seed if seed is not None else self._seed
            if s is not None:
                body["seed"] = int(s)
            r = self.client.post("/envs", body)
            self._made = True
        else:
            if seed is not None:
                body["seed"] = int(seed)
            if "ids" in options:
                body["ids"] = [int(i) for i in options["ids"]]
            r = self.client.post("/envs/reset", body)
        return self._obs(r["observation"]), {"raw": r["info"], "env": r["envs"]}

    def step(self, actions):
        if np is not None and isinstance(actions, np.ndarray):
            actions = actions.tolist()
        r = self.client.post("/envs/step", {"actions": [_action(a) for a in actions]})
        info = {"raw": r["info"], "kpis": r["kpis"],
                "env": [i.get("env") for i in r["info"]],
                "episode": [i.get("episode") for i in r["info"]],
                "step": [i.get("step") for i in r["info"]],
                "autoreset": self._arr([bool(i.get("autoreset")) for i in r["info"]], bool)}
        return (self._obs(r["observation"]), self._arr(r["reward"], np.float64 if np is not None else float),
                self._arr(r["terminated"], bool), self._arr(r["truncated"], bool), info)

    def close(self, **kwargs):
        self.client.close()
