/* schema_mlflow.c — what mlflowd knows of MLflow's tracking schema besides
 * its DDL (schema_tracking*.sql): the revisions older MLflow releases stamp,
 * and the tables of the head, for schema.c's checks of an existing database.
 * Data only: nothing here reads a database. */
#include "schema.h"

#include <string.h>

/* MLflow's revisions before our head, newest first: the chain of
 * mlflow/store/db_migrations/versions from 3da73c924c2f back to the initial
 * 451aebb31d03. `mlflow db upgrade` with MLflow 3.6 brings these to head;
 * any other revision is none it can upgrade. */
static const char *const older_mlflow_revisions[] = {
    "3da73c924c2f", "71994744cf8e", "534353b11cbc", "1a0cddfcaa16", "de4033877273", "a1b2c3d4e5f6",
    "770bee3ae1dd", "cbc13b556ace", "bda7b8c39065", "6953534de441", "400f98739977", "0584bdc529eb",
    "f5a4f2784254", "4465047574b1", "5b0e9adcef9c", "867495a8f9d4", "acf3f17fdcc7", "2d6e25af4d3e",
    "7f2a7d5fae7d", "3500859a5d39", "97727af70f4d", "cc1f77228345", "0c779009ac13", "bd07f7e963c5",
    "c48cb773bb87", "39d1c3be5f05", "a8c4a736bde6", "84291f40a231", "27a6a02d2cf1", "728d730b5ebd",
    "0a8213491aaa", "cfd24bdc0731", "2b4d017a5e9b", "89d4b8295536", "7ac759974ad8", "df50e92ffc5e",
    "181f10493468", "90e64c465722", "451aebb31d03"};

mfd_schema_revision mfd_schema_revision_of(const char *version) {
    if (!strcmp(version, MFD_TRACKING_SCHEMA_HEAD))
        return MFD_REVISION_HEAD;
    if (!strcmp(version, MFD_TRACKING_SCHEMA_FORK_WORKSPACES))
        return MFD_REVISION_FORK_WORKSPACES;
    for (size_t i = 0; i < sizeof older_mlflow_revisions / sizeof older_mlflow_revisions[0]; i++)
        if (!strcmp(version, older_mlflow_revisions[i]))
            return MFD_REVISION_OLDER;
    return MFD_REVISION_UNKNOWN;
}

/* The tables schema_tracking*.sql create, but alembic_version. */
const char *const mfd_schema_tracking_tables[] = {
    /* tracking (schema.md §2) */
    "experiments", "experiment_tags", "runs", "params", "tags", "metrics", "latest_metrics",
    "datasets", "inputs", "input_tags", "logged_models", "logged_model_params", "logged_model_tags",
    "logged_model_metrics",
    /* model registry (§3) */
    "registered_models", "model_versions", "registered_model_tags", "model_version_tags",
    "registered_model_aliases", "webhooks", "webhook_events",
    /* the others, which classic tracking does not use but MLflow's schema has */
    "trace_info", "trace_tags", "trace_request_metadata", "assessments", "spans",
    "entity_associations", "scorers", "scorer_versions", "evaluation_datasets",
    "evaluation_dataset_tags", "evaluation_dataset_records", "jobs"};
const size_t mfd_schema_tracking_table_count =
    sizeof mfd_schema_tracking_tables / sizeof mfd_schema_tracking_tables[0];
