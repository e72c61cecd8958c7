-- Profiles and Stripe event bookkeeping for the billing service.
-- Works as a Supabase migration (`supabase db push`) and on plain PostgreSQL 15+ (`psql -f`);
-- the Supabase-only parts (auth.users, roles, row level security policies) are applied only where
-- those objects exist. Safe to run more than once.

create table if not exists public.profiles (
    id uuid primary key,
    email text,
    customer_id text,
    price_id text,
    has_access boolean not null default false
);

create index if not exists profiles_customer_id on public.profiles (customer_id);
create index if not exists profiles_lower_email on public.profiles (lower(email));

-- One row per Stripe event id: the primary key is what makes a redelivered event apply at most once.
create table if not exists public.stripe_events (
    id text primary key,
    created bigint not null,
    profile_id uuid,
    outcome text not null,
    processed_at timestamptz not null default now()
);

create index if not exists stripe_events_profile on public.stripe_events (profile_id, created);

-- Apply one Stripe event to its profile and record the event, in the caller's transaction.
-- Returns 'applied', 'duplicate', 'stale' or 'unmatched'.
create or replace function public.apply_stripe_event(
    p_event_id text,
    p_created bigint,
    p_user_id text default null,
    p_customer_id text default null,
    p_email text default null,
    p_price_id text default null,
    p_has_access boolean default null
) returns text
language plpgsql
security definer
set search_path = public, pg_temp
as $$
declare
    v_profile uuid;
    v_customer text;
    v_last bigint;
    v_outcome text;
begin
    -- Claim the event id first: a concurrent delivery of the same id waits here for this
    -- transaction, then finds the row and answers 'duplicate'.
    insert into public.stripe_events (id, created, outcome)
    values (p_event_id, p_created, 'pending')
    on conflict (id) do nothing;
    if not found then
        return 'duplicate';
    end if;

    if coalesce(p_user_id, '') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
        v_profile := p_user_id::uuid;
        -- Where profiles belong to auth users (Supabase), a user deleted since the checkout cannot get
        -- one back: the foreign key would fail this event at every redelivery. Such an event goes on to
        -- the customer and email lookups below instead. The inner query is planned only when reached,
        -- so plain PostgreSQL without an auth schema never sees it. A user deleted between the check
        -- and the insert still fails the key: that delivery errs, and the next one finds no user.
        if to_regclass('auth.users') is not null then
            if not exists (select 1 from auth.users where id = v_profile) then
                v_profile := null;
            end if;
        end if;
        if v_profile is not null then
            insert into public.profiles (id) values (v_profile) on conflict (id) do nothing;
        end if;
    end if;
    if v_profile is null and coalesce(p_customer_id, '') <> '' then
        select id into v_profile from public.profiles where customer_id = p_customer_id limit 1;
    end if;
    if v_profile is null and coalesce(p_email, '') <> '' then
        -- Anyone can type any email at a signed-out checkout: it must not take over another billing.
        select id, customer_id into v_profile, v_customer
        from public.profiles where lower(email) = lower(p_email) limit 1;
        if v_customer is not null and v_customer is distinct from p_customer_id then
            v_profile := null;
        end if;
    end if;

    if v_profile is null then
        v_outcome := 'unmatched';
    else
        -- Events of one profile are decided one at a time, so "older than the last applied" holds.
        perform 1 from public.profiles where id = v_profile for update;
        select max(created) into v_last
        from public.stripe_events
        where profile_id = v_profile and outcome = 'applied';
        v_outcome := case when v_last is not null and v_last > p_created then 'stale' else 'applied' end;
    end if;

    if v_outcome = 'applied' then
        update public.profiles
        set customer_id = coalesce(p_customer_id, customer_id),
            price_id = coalesce(p_price_id, price_id),
            has_access = coalesce(p_has_access, has_access),
            email = coalesce(nullif(email, ''), p_email)
        where id = v_profile;
    end if;

    update public.stripe_events set profile_id = v_profile, outcome = v_outcome where id = p_event_id;
    return v_outcome;
end;
$$;

revoke all on function public.apply_stripe_event(text, bigint, text, text, text, text, boolean) from public;
alter table public.profiles enable row level security;
alter table public.stripe_events enable row level security;

do $$
begin
    -- Supabase: profiles belong to auth users, who may read only their own row; only the service
    -- role may apply Stripe events, and nobody reads the event log through the API.
    if to_regclass('auth.users') is not null and not exists (
        select 1 from pg_constraint where conname = 'profiles_id_fkey' and conrelid = 'public.profiles'::regclass
    ) then
        alter table public.profiles
            add constraint profiles_id_fkey foreign key (id) references auth.users (id) on delete cascade;
    end if;
    if to_regprocedure('auth.uid()') is not null then
        drop policy if exists "Users read their own profile" on public.profiles;
        create policy "Users read their own profile" on public.profiles
            for select to authenticated using ((select auth.uid()) = id);
    end if;
    if exists (select 1 from pg_roles where rolname = 'anon') then
        revoke all on function public.apply_stripe_event(text, bigint, text, text, text, text, boolean)
            from anon, authenticated;
        revoke all on public.stripe_events from anon, authenticated;
        -- Supabase's default privileges grant every table privilege to the API roles: keep only reads.
        revoke insert, update, delete, truncate, references, trigger on public.profiles from anon, authenticated;
    end if;
    if exists (select 1 from pg_roles where rolname = 'service_role') then
        grant execute on function public.apply_stripe_event(text, bigint, text, text, text, text, boolean)
            to service_role;
        grant select, insert, update on public.profiles to service_role;
        grant select, insert, update on public.stripe_events to service_role;
    end if;
end
$$;
