package org.rawdenoise.core;

/** A bundle that is malformed, tampered with, incomplete or newer than this core understands. */
public class BundleFormatException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    public BundleFormatException(String message) {
        super(message);
    }
}
