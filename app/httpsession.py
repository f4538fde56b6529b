"""HTTP connections for the two services tgwa calls (Graph API, Trading Grid)."""
from __future__ import annotations

import certifi
import requests
import urllib3

POOL_SIZE = 16  # connections kept open to one service, as many as threads that send at once


def for_host(url: str) -> requests.Session:
    """A keep-alive session that reads proxy settings (HTTPS_PROXY, NO_PROXY) from the environment
    once, for the one service it talks to, rather than on every request as requests otherwise does."""
    session = requests.Session()
    session.proxies.update(requests.utils.get_environ_proxies(url))
    session.trust_env = False
    return session


def pool_for(url: str) -> urllib3.PoolManager:
    """A urllib3 connection pool for one service, through the environment's proxy if it names one."""
    proxy = requests.utils.get_environ_proxies(url).get(url.split(":", 1)[0])
    if proxy:
        return urllib3.ProxyManager(proxy, maxsize=POOL_SIZE, ca_certs=certifi.where())
    return urllib3.PoolManager(maxsize=POOL_SIZE, ca_certs=certifi.where())
