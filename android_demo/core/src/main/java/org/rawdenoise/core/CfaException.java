package org.rawdenoise.core;

/** A colour filter array or mosaic the core cannot turn into RGGB planes. */
public class CfaException extends IllegalArgumentException {

    private static final long serialVersionUID = 1L;

    public CfaException(String message) {
        super(message);
    }
}
