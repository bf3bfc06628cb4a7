// Environment switches read in more than one layer, parsed one way everywhere.

/** A boolean environment value: 1/on/yes/true (any case, surrounding space ignored). */
export function envFlag(value: string | undefined): boolean {
  return ['1', 'on', 'yes', 'true'].includes((value ?? '').trim().toLowerCase());
}

/** The offline switch (COMPSAFE_OFFLINE): no module may reach the network when it is on. */
export function offlineFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return envFlag(env.COMPSAFE_OFFLINE);
}
