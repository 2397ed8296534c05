/** The Worker entry: the app with its production dependencies. */
import { createApp } from './app';

export default createApp();
