package org.berth.driver.kvm;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.berth.driver.api.DriverException;
import org.libvirt.Connect;
import org.libvirt.Error.ErrorNumber;
import org.libvirt.jna.ConnectionPointer;

/**
 * libvirt's bulk domain statistics, {@code virConnectGetAllDomainStats}: one call (one RPC to the daemon) for every
 * domain of the connection, bound with JNA because libvirt-java 0.5.2 has no such method.
 */
final class BulkStats {
    /** virDomainStatsTypes: the groups read. */
    static final int STATE = 1;
    static final int CPU_TOTAL = 2;
    static final int BALLOON = 4;
    static final int VCPU = 8;
    static final int INTERFACE = 16;
    static final int BLOCK = 32;
    static final int GROUPS = STATE | CPU_TOTAL | BALLOON | VCPU | INTERFACE | BLOCK;
    /**
     * VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT: a domain whose job is taken (a snapshot, a save, a wedged QEMU
     * monitor) is reported without the figures that need its monitor, instead of holding the whole call for up to
     * 30 s per domain. No other flag: active and inactive domains alike.
     */
    static final int NOWAIT = 1 << 29;

    /** One domain's record: its name and its statistics. */
    record Record(String name, TypedParams params) {
    }

    interface Api extends Library {
        int virConnectGetAllDomainStats(ConnectionPointer conn, int stats, PointerByReference retStats, int flags);

        void virDomainStatsRecordListFree(Pointer stats);

        /** The name is the domain object's own (no RPC); JNA copies it. */
        String virDomainGetName(Pointer domain);
    }

    private static final class Holder {
        static final Api API = Native.load("virt", Api.class);
    }

    private static final AtomicLong CALLS = new AtomicLong();

    private BulkStats() {
    }

    /** virConnectGetAllDomainStats calls made in this process (tests count them). */
    static long calls() {
        return CALLS.get();
    }

    /**
     * The statistics of every domain. The record list (a NULL-terminated array of {@code virDomainStatsRecordPtr},
     * each {@code {virDomainPtr dom; virTypedParameterPtr params; int nparams}}) is copied and freed here.
     *
     * @throws LibvirtFailure with libvirt's last error when the call fails
     */
    static List<Record> all(Connect connect) {
        Api api = Holder.API;
        PointerByReference out = new PointerByReference();
        CALLS.incrementAndGet();
        int n = api.virConnectGetAllDomainStats(ConsoleNative.pointer(connect), GROUPS, out, NOWAIT);
        if (n < 0) {
            throw new LibvirtFailure(ConsoleNative.lastError());
        }
        Pointer list = out.getValue();
        if (list == null) {
            return List.of();
        }
        try {
            List<Record> records = new ArrayList<>(n);
            int ptr = Native.POINTER_SIZE;
            for (int i = 0; i < n; i++) {
                Pointer record = list.getPointer((long) i * ptr);
                if (record == null) {
                    break;
                }
                String name = api.virDomainGetName(record.getPointer(0));
                Pointer params = record.getPointer(ptr);
                int count = record.getInt(2L * ptr);
                if (name != null) {
                    records.add(new Record(name, params == null ? new TypedParams(java.util.Map.of())
                            : TypedParams.read(params, count)));
                }
            }
            return records;
        } finally {
            api.virDomainStatsRecordListFree(list);
        }
    }

    /** A failed bulk call, carrying libvirt's error so the caller can tell a lost connection from the rest. */
    static final class LibvirtFailure extends RuntimeException {
        final ConsoleNative.LastError error;

        LibvirtFailure(ConsoleNative.LastError error) {
            super(error.message());
            this.error = error;
        }

        /** A lost connection drops the session (the next call reconnects) and is BackendUnavailable. */
        DriverException toDriverException(String operation, Connect connect, LibvirtSession session) {
            ErrorNumber code = error.code();
            boolean lost = code == ErrorNumber.VIR_ERR_INVALID_CONN || code == ErrorNumber.VIR_ERR_NO_CONNECT
                    || code == ErrorNumber.VIR_ERR_RPC || code == ErrorNumber.VIR_ERR_SYSTEM_ERROR && !alive(connect);
            if (lost) {
                session.drop();
                return new DriverException.BackendUnavailable(LibvirtSession.BACKEND, error.message(), this);
            }
            return new DriverException.BackendFailure(LibvirtSession.BACKEND, operation, error.message(), this);
        }

        private static boolean alive(Connect connect) {
            try {
                return connect.isAlive();
            } catch (org.libvirt.LibvirtException | RuntimeException e) {
                return false;
            }
        }
    }
}
