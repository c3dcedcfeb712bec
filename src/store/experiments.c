/* experiments.c — (placeholder: filled in by the store work for this entity). */
