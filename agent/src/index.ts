export { FileOperationError, type FileOperationErrorCode } from './files/errors.js';
export { isTempFileName, writeFileAtomically } from './files/atomic-write.js';
export {
  BLOCK_SIZE,
  inspectFile,
  openFile,
  sealFile,
  writeRecipientCopy,
  type FileInspection,
  type FileTarget,
  type OpenFileResult,
  type SealFileResult,
  type SealOutputOptions,
} from './files/sealed-file-io.js';
export { AgentDatabase } from './storage/database.js';
export { EventOutbox, type ExportEventInput } from './storage/event-outbox.js';
export { apiFor, enrolAgent, loadEnrolment, type Enrolment } from './server/enrolment.js';
export { EventUploader } from './upload/event-uploader.js';
export type { Logger } from './logging/logger.js';
