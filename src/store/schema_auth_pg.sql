-- MLflow's basic-auth schema at alembic head 0965eb92f5f0 as its migrations
-- leave it on PostgreSQL (SQLAlchemy's PostgreSQL rendering of
-- schema_auth.sql): SERIAL ids, native BOOLEAN; tables in foreign-key order.

CREATE TABLE alembic_version_auth (
	version_num VARCHAR(32) NOT NULL,
	CONSTRAINT alembic_version_auth_pkc PRIMARY KEY (version_num)
);
CREATE TABLE users (
	id SERIAL NOT NULL,
	username VARCHAR(255),
	password_hash VARCHAR(255),
	is_admin BOOLEAN,
	PRIMARY KEY (id),
	UNIQUE (username)
);
CREATE TABLE experiment_permissions (
	id SERIAL NOT NULL,
	experiment_id VARCHAR(255) NOT NULL,
	user_id INTEGER NOT NULL,
	permission VARCHAR(255),
	PRIMARY KEY (id),
	CONSTRAINT fk_user_id FOREIGN KEY(user_id) REFERENCES users (id),
	CONSTRAINT unique_experiment_user UNIQUE (experiment_id, user_id)
);
CREATE TABLE registered_model_permissions (
	id SERIAL NOT NULL,
	name VARCHAR(255) NOT NULL,
	user_id INTEGER NOT NULL,
	permission VARCHAR(255),
	PRIMARY KEY (id),
	CONSTRAINT fk_user_id FOREIGN KEY(user_id) REFERENCES users (id),
	CONSTRAINT unique_name_user UNIQUE (name, user_id)
);
CREATE TABLE scorer_permissions (
	id SERIAL NOT NULL,
	experiment_id VARCHAR(255) NOT NULL,
	scorer_name VARCHAR(256) NOT NULL,
	user_id INTEGER NOT NULL,
	permission VARCHAR(255),
	PRIMARY KEY (id),
	CONSTRAINT fk_scorer_perm_user_id FOREIGN KEY(user_id) REFERENCES users (id),
	CONSTRAINT unique_scorer_user UNIQUE (experiment_id, scorer_name, user_id)
);
-- alembic_version_auth contains exactly one row: '0965eb92f5f0'
