package org.berth.agent.config;

/** Nova's {@code running_deleted_instance_action}: what to do with a backend instance the store says was deleted. */
public enum RunningDeletedAction {
    NOOP, LOG, SHUTDOWN, REAP
}
