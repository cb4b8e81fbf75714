"""The Python client of the DecisionGraph HTTP service (HTTP_API 8).

``Client`` has the embedded ``DecisionGraph``'s methods and returns the library's types
and exception classes; see ``docs/reference/PYTHON_SDK.md``. This is an edge module: it
imports the domain, the error tree and the query layer's read models, never the API,
service or store internals.

Example::

    from decisiongraph import ActorRef, Client, EntityRef, SourceRef

    with Client("https://dg.example.com", api_key, tenant="acme") as dg:
        trace = dg.start_trace("deal_approval", "Discount for ACME",
                               EntityRef("opportunity", "opp-1", "salesforce"),
                               SourceRef("deal-agent", "crm"), ActorRef("agent", "a1"))
"""

from decisiongraph.client._convert import AppendResult, BatchItem
from decisiongraph.client._errors import LIBRARY_CODE_BY_API_CODE
from decisiongraph.client.client import Client

__all__ = ["LIBRARY_CODE_BY_API_CODE", "AppendResult", "BatchItem", "Client"]
