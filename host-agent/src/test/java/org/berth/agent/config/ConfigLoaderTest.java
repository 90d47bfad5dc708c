package org.berth.agent.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ConfigLoaderTest {
    @Test
    void defaults() {
        AgentConfig c = ConfigLoader.parse("");
        assertEquals("127.0.0.1", c.listenAddress());
        assertEquals(8774, c.listenPort());
        assertEquals(Path.of("state").toAbsolutePath(), c.stateDir(), "relative to the working directory, made absolute");
        assertEquals("br-int", c.bridge());
        assertEquals(Path.of("/var/lib/berth/instances"), c.instancesPath(), "Nova's instances_path, reachable by QEMU");
        assertEquals(Path.of("/srv/vm"), ConfigLoader.parse("instances_path: /srv/vm/").instancesPath());
        assertEquals("instances_path", assertThrows(ConfigException.class,
                () -> ConfigLoader.parse("instances_path: /")).option());
        assertEquals(16.0, c.cpuAllocationRatio());
        assertEquals(1.5, c.ramAllocationRatio());
        assertEquals(1.0, c.diskAllocationRatio());
        assertEquals(512, c.reservedHostMemoryMb());
        assertFalse(c.resumeGuestsStateOnHostBoot());
        assertEquals(RunningDeletedAction.LOG, c.runningDeletedInstanceAction());
        assertEquals(Duration.ofSeconds(60), c.syncPowerStateInterval());
        assertTrue(c.drivers().isEmpty());
        assertTrue(c.ovsEnabled());
        assertEquals(64L << 30, c.maxImageUploadBytes());
        assertEquals(1L << 40, ConfigLoader.parse("max_image_upload_bytes: 1099511627776").maxImageUploadBytes());
        assertEquals(4, AgentConfig.defaults().maxConcurrentImageUploads());
        assertEquals(Duration.ofMinutes(5), AgentConfig.defaults().imageUploadIdleTimeout());
    }

    @Test
    void consoleLimitsDefaultAndSet() {
        assertEquals(org.berth.agent.config.ConsoleConfig.DEFAULTS, AgentConfig.defaults().console());
        var c = ConfigLoader.parse("""
                console: {max_sessions: 5, max_sessions_per_instance: 2, idle_timeout: 30s, max_frame_bytes: 2048,
                          ticket_ttl: 10s}
                """).console();
        assertEquals(new org.berth.agent.config.ConsoleConfig(5, 2, Duration.ofSeconds(30), 2048,
                Duration.ofSeconds(10)), c);
    }

    @Test
    void instanceStatsIntervalDefaultsTo10sAnd0TurnsItOff() {
        assertEquals(Duration.ofSeconds(10), AgentConfig.defaults().instanceStatsInterval());
        assertTrue(AgentConfig.defaults().instanceStatsEnabled());
        AgentConfig off = ConfigLoader.parse("instance_stats_interval: 0\n");
        assertEquals(Duration.ZERO, off.instanceStatsInterval());
        assertFalse(off.instanceStatsEnabled());
        assertEquals(Duration.ofSeconds(30), ConfigLoader.parse("instance_stats_interval: 30\n").instanceStatsInterval(),
                "a bare number is seconds");
        assertEquals(Duration.ofMillis(250), ConfigLoader.parse("instance_stats_interval: 250ms\n")
                .instanceStatsInterval());
        assertEquals(Duration.ofSeconds(10), AgentConfig.defaults().withListenPort(1).instanceStatsInterval(),
                "kept by withListenPort");
    }

    @Test
    void driversAndTheirOptions() {
        AgentConfig c = ConfigLoader.parse("""
                drivers:
                  kvm: {enabled: true, options: {uri: "qemu:///system", timeout: 30}}
                  docker: {enabled: false}
                running_deleted_instance_action: reap
                sync_power_state_interval: 10s
                """);
        assertEquals(new DriverSettings(true, Map.of("uri", "qemu:///system", "timeout", "30")), c.drivers().get("kvm"));
        assertFalse(c.drivers().get("docker").enabled());
        assertEquals(RunningDeletedAction.REAP, c.runningDeletedInstanceAction());
        assertEquals(Duration.ofSeconds(10), c.syncPowerStateInterval());
    }

    @Test
    void placementDefaultsAndOptions() {
        PlacementConfig d = AgentConfig.defaults().placement();
        assertFalse(d.enabled(), "off unless asked for");
        assertEquals(Duration.ofSeconds(60), d.updateResourcesInterval());
        assertEquals("http://127.0.0.1:8778", d.url().toString());
        assertEquals("noauth2", d.auth());
        assertFalse(d.host().isBlank(), "the host name by default");
        PlacementConfig p = ConfigLoader.parse("""
                host: compute-7.example
                update_resources_interval: 15s
                placement: {enabled: true, url: "http://10.0.0.5:8778/placement/", token: "svc:proj", timeout: 2s}
                """).placement();
        assertTrue(p.enabled());
        assertEquals("compute-7.example", p.host());
        assertEquals(Duration.ofSeconds(15), p.updateResourcesInterval());
        assertEquals("http://10.0.0.5:8778/placement", p.url().toString(), "a trailing slash is dropped");
        assertEquals("svc:proj", p.token());
        assertEquals(Duration.ofSeconds(2), p.timeout());
        assertFalse(p.toString().contains("svc:proj"), "the token is never printed: " + p);
    }

    @Test
    void ownerAndVifPluggingWithNovasNames() {
        AgentConfig d = AgentConfig.defaults();
        assertEquals("berth", d.owner(), "DriverContext's default owner");
        assertEquals(new VifPluggingConfig(Duration.ofSeconds(300), true), d.vifPlugging(), "Nova's defaults");
        AgentConfig c = ConfigLoader.parse("""
                owner: berth-h2
                vif_plugging_timeout: 0
                vif_plugging_is_fatal: false
                """);
        assertEquals("berth-h2", c.owner());
        assertEquals(Duration.ZERO, c.vifPlugging().timeout());
        assertFalse(c.vifPlugging().waits(), "0 = do not wait");
        assertFalse(c.vifPlugging().isFatal());
        assertEquals(Duration.ofSeconds(300), ConfigLoader.parse("vif_plugging_timeout: 300").vifPlugging().timeout(),
                "Nova's plain seconds");
        assertEquals(Duration.ofHours(1), ConfigLoader.parse("vif_plugging_timeout: 1h").vifPlugging().timeout());
        assertEquals(Duration.ofMillis(1500), ConfigLoader.parse("vif_plugging_timeout: 1500ms").vifPlugging().timeout());
    }

    @Test
    void aBadTokenIsNotEchoed() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigLoader.parse("placement: {token: \"s3cret value\"}"));
        assertFalse(e.getMessage().contains("s3cret"), e.getMessage());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
            listen_port: 70000                          | listen_port
            listen_port: eighty                         | listen_port
            listen_address: 'a b'                       | listen_address
            cpu_allocation_ratio: 0                     | cpu_allocation_ratio
            ram_allocation_ratio: -1.5                  | ram_allocation_ratio
            disk_allocation_ratio: lots                 | disk_allocation_ratio
            reserved_host_memory_mb: -1                 | reserved_host_memory_mb
            resume_guests_state_on_host_boot: maybe     | resume_guests_state_on_host_boot
            running_deleted_instance_action: explode    | running_deleted_instance_action
            sync_power_state_interval: soon             | sync_power_state_interval
            sync_power_state_interval: 0s               | sync_power_state_interval
            bridge: this-name-is-far-too-long           | bridge
            colour: blue                                | colour
            'drivers: {kvm: {enabld: true}}'            | drivers.kvm.enabld
            'drivers: {kvm: {options: [1]}}'            | drivers.kvm.options
            'drivers: {kvm: {options: {uri: [1]}}}'     | drivers.kvm.options.uri
            'ovs: {ovsdb: ""}'                          | ovs.ovsdb
            'image_dirs: /one'                          | image_dirs
            max_request_body_bytes: 10                  | max_request_body_bytes
            max_image_upload_bytes: 1099511627777       | max_image_upload_bytes
            max_image_upload_bytes: 12.5                | max_image_upload_bytes
            max_concurrent_image_uploads: 0             | max_concurrent_image_uploads
            max_concurrent_image_uploads: 65            | max_concurrent_image_uploads
            image_upload_idle_timeout: 0s               | image_upload_idle_timeout
            image_upload_idle_timeout: 2h               | image_upload_idle_timeout
            '[1, 2]'                                    | config
            'host: "a b"'                               | host
            update_resources_interval: 0s               | update_resources_interval
            update_resources_interval: 1ms              | update_resources_interval
            'placement: {enabled: yes-please}'          | placement.enabled
            'placement: {url: "ftp://x"}'               | placement.url
            'placement: {url: "http://h:1/p?q=1"}'      | placement.url
            'placement: {url: "http://u:p@h:1"}'        | placement.url
            'placement: {auth: keystone}'               | placement.auth
            'placement: {token: "has space"}'           | placement.token
            'placement: {token: [1]}'                   | placement.token
            'placement: {timeout: 0s}'                  | placement.timeout
            'placement: {timeout: 1ms}'                 | placement.timeout
            'placement: {max_backoff: 2h}'              | placement.max_backoff
            'placement: {colour: blue}'                 | placement.colour
            'placement: true'                           | placement
            owner: Berth                                | owner
            owner: -a                                   | owner
            'owner: ""'                                 | owner
            vif_plugging_timeout: -1                    | vif_plugging_timeout
            vif_plugging_timeout: 2h                    | vif_plugging_timeout
            vif_plugging_timeout: soon                  | vif_plugging_timeout
            'vif_plugging_timeout: [300]'               | vif_plugging_timeout
            vif_plugging_is_fatal: maybe                | vif_plugging_is_fatal
            'console: {max_sessions: 0}'                | console.max_sessions
            'console: {max_sessions_per_instance: -1}'  | console.max_sessions_per_instance
            'console: {idle_timeout: 10ms}'             | console.idle_timeout
            'console: {max_frame_bytes: 12}'            | console.max_frame_bytes
            'console: {ticket_ttl: 2h}'                 | console.ticket_ttl
            'console: {tickets: 3}'                     | console.tickets
            'console: 5'                                | console
            instance_stats_interval: 50ms               | instance_stats_interval
            instance_stats_interval: 2h                 | instance_stats_interval
            instance_stats_interval: -1                 | instance_stats_interval
            instance_stats_interval: often              | instance_stats_interval
            'instance_stats_interval: [10]'             | instance_stats_interval
            """)
    void errorsNameTheOption(String yaml, String option) {
        ConfigException e = assertThrows(ConfigException.class, () -> ConfigLoader.parse(yaml));
        assertEquals(option, e.option(), e.getMessage());
        assertTrue(e.getMessage().startsWith(option + ":"), e.getMessage());
    }
}
