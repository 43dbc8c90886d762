/**
 * The winlogbeat 7.x/8.x document as shipped to Kafka (the JSON codec of `output.kafka`).
 * Only the fields winlake reads or writes are typed; winlogbeat adds more (ecs, os, ...), which
 * flow through untouched as extra keys.
 */
export interface WinlogbeatDoc {
  '@timestamp': string;
  agent?: WinlogbeatAgent;
  host?: { name?: string; hostname?: string; [key: string]: unknown };
  ecs?: { version: string };
  log?: { level?: string };
  event?: WinlogbeatEventMeta;
  message?: string;
  winlog: WinlogSection;
  tags?: string[];
  [key: string]: unknown;
}

/** `agent`: winlogbeat 7 sends `hostname`, winlogbeat 8 only `name`. */
export interface WinlogbeatAgent {
  hostname?: string;
  name?: string;
  id?: string;
  ephemeral_id?: string;
  type: 'winlogbeat';
  /** Absent on documents converted from layouts that do not say which shipper wrote them. */
  version?: string;
}

/** ECS `event.*` as winlogbeat fills it. */
export interface WinlogbeatEventMeta {
  action?: string;
  code: string;
  kind: 'event';
  provider?: string;
  created?: string;
  outcome?: string;
}

/** `winlog.*`: the Windows event record. `event_data` values are always strings. */
export interface WinlogSection {
  channel: string;
  /** A string, as winlogbeat 8 maps it (keyword); winlake writes it as a string for 7 too. */
  event_id: string;
  provider_name?: string;
  provider_guid?: string;
  computer_name?: string;
  record_id?: number;
  task?: string;
  opcode?: string;
  version?: number;
  api?: 'wineventlog' | 'eventlogging';
  keywords?: string[];
  activity_id?: string;
  process?: { pid: number; thread?: { id: number } };
  user?: { identifier?: string; name?: string; domain?: string; type?: string };
  event_data?: Record<string, string>;
  user_data?: Record<string, string>;
  [key: string]: unknown;
}
