"""What identifies a run: GET /_engine/status carries a run id (new for every
start) and a hash of the config, scripts and policies in force (the same for
the same files, another one once a policy or the config changes)."""
import os
import re
import time

from pgtest import Server, check, done


def status(s):
    st, body, _ = s.get("/_engine/status")
    return body if st == 200 else {}


a = Server()
sa = status(a)
check(re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{8}", sa.get("run_id", "")), "the run id is a UTC start time and 32 random bits (%s)" % sa.get("run_id"))
check(re.fullmatch(r"[0-9a-f]{16}", sa.get("config_hash", "")), "the config hash is 16 hex digits (%s)" % sa.get("config_hash"))

# Same files, another process (another port and data folder): another run id, the same hash.
b = Server(scripts=a.scripts, policies=a.policies)
sb = status(b)
check(sb.get("run_id") != sa.get("run_id"), "every start has a run id of its own")
check(sb.get("config_hash") == sa.get("config_hash"), "the same config and files give the same hash")
b.stop()

# A config that differs: another hash.
c = Server(scripts=a.scripts, policies=a.policies, config="sim: {seed: 7}\n")
check(status(c).get("config_hash") != sa.get("config_hash"), "another config, another hash")
c.stop()

# A policy edited while the server runs: after the reload, another hash.
with open(os.path.join(a.policies, "reward.lua"), "a") as f:
    f.write("\n-- edited\n")
gen = sa.get("generation")
deadline = time.time() + 5
while time.time() < deadline and status(a).get("generation") == gen:
    time.sleep(0.05)
sa2 = status(a)
check(sa2.get("generation") != gen, "the edit is reloaded")
check(sa2.get("config_hash") != sa.get("config_hash"), "an edited policy changes the hash")
check(sa2.get("run_id") == sa.get("run_id"), "a reload keeps the run id")
a.stop()
done()
