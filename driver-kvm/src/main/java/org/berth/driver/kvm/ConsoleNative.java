package org.berth.driver.kvm;

import com.sun.jna.Library;
import com.sun.jna.Native;
import java.lang.reflect.Field;
import org.libvirt.Connect;
import org.libvirt.Error;
import org.libvirt.Error.ErrorNumber;
import org.libvirt.jna.ConnectionPointer;
import org.libvirt.jna.DomainPointer;
import org.libvirt.jna.SizeT;
import org.libvirt.jna.StreamPointer;
import org.libvirt.jna.virError;

/**
 * The libvirt calls of a console stream, bound with JNA: libvirt-java 0.5.2 has no virDomainOpenConsole, and its
 * {@code Stream} frees the native stream again from its finalizer and cannot free one whose finish failed, so the
 * stream is held as a raw pointer that {@link ConsoleStream} frees exactly once.
 */
final class ConsoleNative {
    /** virDomainOpenConsoleFlags: none (no FORCE: an open session is not taken over; no SAFE). */
    static final int NO_FLAGS = 0;
    /** virStreamFlags: receive and send return -2 instead of waiting. */
    static final int VIR_STREAM_NONBLOCK = 1;

    interface Api extends Library {
        StreamPointer virStreamNew(ConnectionPointer conn, int flags);

        DomainPointer virDomainLookupByName(ConnectionPointer conn, String name);

        int virDomainFree(DomainPointer domain);

        int virDomainOpenConsole(DomainPointer domain, String devName, StreamPointer stream, int flags);

        int virStreamRecv(StreamPointer stream, byte[] data, SizeT nbytes);

        int virStreamSend(StreamPointer stream, byte[] data, SizeT nbytes);

        int virStreamAbort(StreamPointer stream);

        int virStreamFree(StreamPointer stream);

        virError virGetLastError();
    }

    /** libvirt's last error on this thread (libvirt keeps it per thread). */
    record LastError(ErrorNumber code, String message) {
        @Override
        public String toString() {
            return message;
        }
    }

    private static final class Holder {
        static final Api API = Native.load("virt", Api.class);
        static final Field CONNECTION = connectionField();

        private static Field connectionField() {
            try {
                Field f = Connect.class.getDeclaredField("vcp");
                f.setAccessible(true);
                return f;
            } catch (NoSuchFieldException e) {
                throw new IllegalStateException("libvirt-java's Connect has no connection pointer 'vcp'", e);
            }
        }
    }

    private ConsoleNative() {
    }

    static Api api() {
        return Holder.API;
    }

    /** The native connection behind libvirt-java's {@link Connect} (a protected field it does not expose). */
    static ConnectionPointer pointer(Connect connect) {
        try {
            return (ConnectionPointer) Holder.CONNECTION.get(connect);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("cannot read libvirt-java's connection pointer", e);
        }
    }

    static LastError lastError() {
        virError error = api().virGetLastError();
        if (error == null) {
            return new LastError(ErrorNumber.VIR_ERR_UNKNOWN, "unknown libvirt error");
        }
        Error e = new Error(error);
        ErrorNumber code = e.getCode() == null ? ErrorNumber.VIR_ERR_UNKNOWN : e.getCode();
        return new LastError(code, e.getMessage());
    }
}
