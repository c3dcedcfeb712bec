/* path.c — (placeholder). */
