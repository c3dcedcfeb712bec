/* mime.c — (placeholder). */
