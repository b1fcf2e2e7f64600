"""A FastAPI service whose routes are guarded by keyward keys.

Run a keyward server (`cargo run -p keyward-server` prints the admin key), then:

    export KEYWARD_API_KEY=<a key with keys:verify, e.g. the admin key>
    export KEYWARD_BASE_URL=http://127.0.0.1:8080
    pip install "./sdk-python[fastapi]" uvicorn
    uvicorn fastapi_app:app --app-dir sdk-python/examples --port 9000

    curl -H "Authorization: Bearer <a customer's key with reports:read>" localhost:9000/reports

Without KEYWARD_API_KEY or KEYWARD_BASE_URL the import fails, naming the variable.
"""

from __future__ import annotations

from typing import Any, Dict

from fastapi import Depends, FastAPI
from keyward import VerifyResult
from keyward.fastapi import require_key

app = FastAPI(title="reports service")


@app.get("/reports")
async def list_reports(key: VerifyResult = Depends(require_key(scopes=["reports:read"]))) -> Dict[str, Any]:
    # `key` is the verified key: who it belongs to and what it may do.
    return {"organization_id": key.organization_id, "key_name": key.name, "reports": []}


@app.post("/reports")
async def create_report(key: VerifyResult = Depends(require_key(scopes=["reports:write"], cost=5))) -> Dict[str, Any]:
    return {"created_by_key": key.key_id, "credits_left": key.remaining}


@app.get("/healthz")
async def healthz() -> Dict[str, str]:
    return {"status": "ok"}
