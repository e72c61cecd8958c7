-- A PostgreSQL cluster prepared as a Supabase project's database is, in brief: run once by the cluster's
-- bootstrap superuser `supabase_admin`, before the project's migrations, which then run as `postgres`.
-- Written from what supabase/postgres (migrations/db: initial schema, auth schema, demote-postgres) and
-- supabase/auth (auth.uid()) publish; only what the profile store and its migration touch.

-- The API roles PostgREST switches to, and the login role it connects as.
create role anon nologin;
create role authenticated nologin;
create role service_role nologin bypassrls;
create role authenticator login noinherit;
grant anon, authenticated, service_role to authenticator;
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';

-- The role a project's owner and `supabase db push` use: not a superuser, but it bypasses row level
-- security and owns what the migrations create.
create role postgres login createdb createrole replication bypassrls nosuperuser;
grant all on database postgres to postgres;
grant usage, create on schema public to postgres;
grant usage on schema public to anon, authenticated, service_role;

-- Whatever `postgres` creates in public is open to the API roles unless a migration revokes it.
alter default privileges for role postgres in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on functions to anon, authenticated, service_role;
alter default privileges for role postgres in schema public grant all on sequences to anon, authenticated, service_role;

-- Supabase Auth's schema: its users table (owned by the Auth server's role) and auth.uid().
create role supabase_auth_admin login noinherit createrole;
create schema auth authorization supabase_admin;
create table auth.users (
    instance_id uuid,
    id uuid primary key,
    aud varchar(255),
    role varchar(255),
    email varchar(255),
    raw_app_meta_data jsonb,
    raw_user_meta_data jsonb,
    created_at timestamptz default now(),
    updated_at timestamptz default now(),
    deleted_at timestamptz
);
alter table auth.users owner to supabase_auth_admin;

create function auth.uid() returns uuid
language sql stable
as $$
    select coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
    )::uuid
$$;

grant usage on schema auth to anon, authenticated, service_role;
grant all on schema auth to supabase_auth_admin, postgres;
grant all on all tables in schema auth to postgres;
grant all on all routines in schema auth to postgres;
