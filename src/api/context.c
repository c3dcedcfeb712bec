/* context.c — per-request resources the handlers borrow from the app. */
#include "api.h"
#include "http/metrics.h"
#include "store/db.h"

mfd_err mfd_api_conn(mfd_request *req, mfd_conn **out) {
    if (!req->conn) {
        if (!req->app->tracking_db)
            return mfd_err_new(MFD_TEMPORARILY_UNAVAILABLE, "the tracking store is not configured");
        mfd_err err = mfd_db_acquire(req->app->tracking_db, &req->conn);
        if (err)
            return err;
        mfd_metrics_db_borrowed();
    }
    *out = req->conn;
    return NULL;
}

void mfd_api_conn_release(mfd_request *req) {
    if (req->conn) {
        mfd_db_release(req->app->tracking_db, req->conn);
        req->conn = NULL;
        mfd_metrics_db_returned();
    }
}
