export { FileOperationError, type FileOperationErrorCode } from './files/errors.js';
export { isTempFileName, writeFileAtomically } from './files/atomic-write.js';
export { BLOCK_SIZE, inspectFile, openFile, sealFile, writeRecipientCopy, type FileTarget, type OpenFileResult, type SealFileResult } from './files/sealed-file-io.js';
